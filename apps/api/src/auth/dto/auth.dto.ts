import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length, Matches, MaxLength, MinLength } from 'class-validator';
import type { UserRole } from '@keyflow/db';
import { USERNAME_PATTERN, USERNAME_RULE } from '../credentials.util';

const ROLES: UserRole[] = ['user', 'admin'];

export class AuthLoginDto {
  @ApiProperty({ example: 'ada' })
  @IsString()
  @Length(1, 64)
  username!: string;

  @ApiProperty({ example: 'correct horse battery staple', format: 'password' })
  @IsString()
  @Length(1, 1024)
  password!: string;
}

export class AuthSessionResponseDto {
  @ApiProperty({ example: 'ada' })
  username!: string;

  @ApiProperty({ enum: ROLES, example: 'user' })
  role!: UserRole;

  @ApiProperty({ example: 'api-1', description: 'The API instance that served this request.' })
  instance!: string;
}

export class AuthMeResponseDto extends AuthSessionResponseDto {
  @ApiProperty({ enum: ['session', 'token'], description: 'How this request proved who it is.' })
  authenticatedBy!: 'session' | 'token';
}

export class AuthSessionInfoResponseDto extends AuthSessionResponseDto {
  @ApiProperty({ format: 'date-time', description: 'When the session began (the login).' })
  startedAt!: string;

  @ApiProperty({
    format: 'date-time',
    description: 'When it ends unless used again: the idle timeout, pushed forward by every request (this one too).',
  })
  idleExpiresAt!: string;

  @ApiProperty({ format: 'date-time', description: 'When it ends however active it is: the absolute timeout.' })
  absoluteExpiresAt!: string;

  @ApiProperty({ format: 'date-time', description: 'The earlier of the two: when the session ends if left alone.' })
  expiresAt!: string;
}

export class TokenResponseDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'ci-pipeline' })
  name!: string;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'null while the token works.' })
  revokedAt!: string | null;
}

export class TokenListResponseDto {
  @ApiProperty({ type: [TokenResponseDto], description: 'Newest first; never the tokens themselves.' })
  items!: TokenResponseDto[];
}

export class TokenCreateDto {
  @ApiProperty({ example: 'ci-pipeline', description: 'A label to recognise the token by; 1–100 characters.' })
  @IsString()
  @Length(1, 100)
  name!: string;
}

export class TokenCreatedResponseDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'ci-pipeline' })
  name!: string;

  @ApiProperty({
    example: 'kf_3q2-7wEvQ0jJm0eA0hfQ9z6VbqxJkP5J2Yx1c7nA4oU',
    description: 'Send as `Authorization: Bearer <token>`. Shown only now: keyflow keeps only its hash.',
  })
  token!: string;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
}

export class UserCreateDto {
  @ApiProperty({
    example: 'ada',
    description: '2–64 lower-case letters, digits, `.`, `_` or `-`, starting with a letter or digit.',
  })
  @IsString()
  @Matches(USERNAME_PATTERN, { message: `username ${USERNAME_RULE}` })
  username!: string;

  @ApiProperty({ example: 'correct horse battery staple', format: 'password', description: '12–1024 characters.' })
  @IsString()
  @MinLength(12)
  @MaxLength(1024)
  password!: string;

  @ApiPropertyOptional({ enum: ROLES, default: 'user' })
  @IsOptional()
  @IsIn(ROLES)
  role?: UserRole;
}

export class UserResponseDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'ada' })
  username!: string;

  @ApiProperty({ enum: ROLES })
  role!: UserRole;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
}

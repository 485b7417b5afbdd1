import { Body, Controller, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiProblemResponses } from '../common/api-problems.decorator';
import { Access } from './access.decorator';
import { AuthService } from './auth.service';
import { UserCreateDto, UserResponseDto } from './dto/auth.dto';

@ApiTags('auth')
@Controller('v1/users')
export class UsersController {
  constructor(private readonly auth: AuthService) {}

  @Post()
  @Access('admin')
  @ApiCookieAuth()
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Create a user (admins only)', description: 'The password is stored as an argon2id hash.' })
  @ApiCreatedResponse({ type: UserResponseDto })
  @ApiProblemResponses(400, 401, 403, 409)
  create(@Body() body: UserCreateDto): Promise<UserResponseDto> {
    return this.auth.createUser({ username: body.username, password: body.password, role: body.role ?? 'user' });
  }
}
